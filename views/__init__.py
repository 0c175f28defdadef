"""The app's views."""
