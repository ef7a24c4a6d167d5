"""The demo: generated sample exports that go through the production refresh."""
