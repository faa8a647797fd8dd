"""The Panel dashboard: NEM at a glance, generation, prices, price analysis and stations."""
