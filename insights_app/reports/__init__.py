"""HTML reports over the stored rooms, sessions and participants: queries, charts, views, CSV."""
