"""Promotions: limited-time discounts, member prices, 满减 and 满折 ladders."""
