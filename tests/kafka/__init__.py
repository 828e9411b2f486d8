"""Kafka-mode tools against a real broker (Tansu by default, any Kafka via LOANWATCH_TEST_KAFKA_BOOTSTRAP)."""
