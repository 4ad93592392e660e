"""Segments: SQL over profiles and scores, validated before they run, tracked over time."""
