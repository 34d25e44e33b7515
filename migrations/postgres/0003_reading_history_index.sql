-- A reading's facts are probes for the accepted reading just before or after a time, ordered
-- by (read_at, id): with id in the index each is one index step (PostgreSQL otherwise sorted
-- the rows of equal read_at after the scan; SQLite's index ends with the rowid anyway).
DROP INDEX readings_equipment_time_idx;
CREATE INDEX readings_equipment_time_idx ON readings (tenant_id, equipment_id, meter_kind, read_at, id);
