"""sensor-consumer: sensor.readings -> PostgreSQL."""
