"""The demo page server: the browser demo, dev tokens for demo users, test notifications."""
