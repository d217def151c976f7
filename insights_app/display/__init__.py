"""How the app writes numbers, durations, times and names (the foundation every layer may use)."""
