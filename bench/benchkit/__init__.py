"""scimbench's code (bench/scimbench.py runs it): see that file for what it measures."""
