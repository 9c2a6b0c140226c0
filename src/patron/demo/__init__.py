"""Realistic demo data: a desk with clients and customers, agents in teams, and 90 days of tickets.

`corpus` reads the two datasets shipped in `data/` (with their licences); `plan` turns a seed into
a deterministic description of people and conversations; `loader` plays that plan through the
services, so every ticket has real messages, events and a real timeline.
"""
