"""Report pages; each module holds one page."""
