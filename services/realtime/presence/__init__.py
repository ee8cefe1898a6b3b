"""Cluster-wide presence: who is online on any realtime instance, and who is in a channel."""
