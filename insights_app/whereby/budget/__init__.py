"""The rate budget: our share of the organisation's Whereby points, its figures and what each call costs."""
