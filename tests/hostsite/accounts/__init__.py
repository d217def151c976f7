"""The host site's own user model app."""
