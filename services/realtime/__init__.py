"""The realtime service: holds users' WebSocket connections and pushes their events to them."""
