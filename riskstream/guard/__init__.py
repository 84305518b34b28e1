"""The guard service: decisions for the recommender from the job's verdicts and breakers."""
