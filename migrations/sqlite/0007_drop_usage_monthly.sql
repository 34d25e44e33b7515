-- usage_monthly was made for pre-aggregated monthly pages but nothing ever maintained it; the
-- pages read the monthly figures from the readings (index probes at the month boundaries),
-- which the scale benchmark measured fast enough at 10 million readings. Dropped rather than
-- left to look like a source of truth.
DROP TABLE usage_monthly;
