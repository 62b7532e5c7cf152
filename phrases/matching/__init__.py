"""FAQ matching internals: lexicons, feature extraction, the inverted index."""
