"""Flash sales (秒杀): scheduling, the Redis purchase step, tickets, reconciliation."""
