-- Per-step token usage and cost, not only the run's total. cost_source says whether the agent
-- reported the cost itself ('reported') or loopd computed it from tokens and the price table
-- ('estimated'), or could not price the model ('unpriced'). NULL for steps that ran no agent.
ALTER TABLE steps ADD COLUMN cost_usd REAL;
ALTER TABLE steps ADD COLUMN input_tokens INTEGER;
ALTER TABLE steps ADD COLUMN output_tokens INTEGER;
ALTER TABLE steps ADD COLUMN cost_source TEXT;
