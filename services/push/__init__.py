"""The push service: devices (Web Push, FCM, APNs) and the consumer that pushes notifications
to people who are away."""
