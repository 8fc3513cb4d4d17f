"""Flash-sale benchmark: 5,000 members race for 100 units through the gateway."""
