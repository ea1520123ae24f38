"""event-consumer: user.events and chat.messages -> MongoDB."""
