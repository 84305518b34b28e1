"""Pure logic the Flink jobs call: record codecs, scoring clients, metrics. No pyflink imports here."""
