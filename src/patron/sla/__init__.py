"""Service levels: business calendars, the pure clock engine (`calendar`, `engine`) and the
replay of one documented JSON timeline (`replay`), all free of Django so the live consumer, the
periodic tick, the simulator and `patron sla replay` share one arithmetic (docs/sla.md)."""
