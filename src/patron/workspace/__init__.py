"""The agent workspace: the pages agents work in (inbox, ticket page, new ticket, a ticket's
mail) and what keeps them live (presence, the event stream). It sits above the domain apps and
the channels: it may import tickets, people, mail and notifications; none of them imports it."""
