"""Signal processing shared by preprocessing (train) and synthesis (runtime): numpy only."""
