-- Invoices from meters (the billing issue): each usage line keeps the counter values it was
-- computed from, so that an estimated end (which is no reading: nothing else may take it for
-- one) is where the next cycle starts, and is trued up there. One invoice per contract and
-- period, also when two runs race.
ALTER TABLE invoice_lines ADD COLUMN start_segment INTEGER;
ALTER TABLE invoice_lines ADD COLUMN start_value INTEGER;
ALTER TABLE invoice_lines ADD COLUMN end_segment INTEGER;
ALTER TABLE invoice_lines ADD COLUMN end_value INTEGER;
-- (NULLs are distinct: invoices without a contract are not limited by it)
CREATE UNIQUE INDEX invoices_contract_period_key ON invoices (tenant_id, contract_id, period_start);
