"""Automation: triggers that act on ticket events, through the same services as any agent."""
