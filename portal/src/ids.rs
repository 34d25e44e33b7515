//! Typed ids of the portal's own entities (ingest defines tenant, equipment, reading, agent).

pub use ingest::ids::{AgentId, EquipmentId, ReadingId, TenantId};

ingest::typed_id!(AccountId);
ingest::typed_id!(SiteId);
ingest::typed_id!(ContactId);
ingest::typed_id!(UserId);
ingest::typed_id!(RoleId);
ingest::typed_id!(ContractId);
ingest::typed_id!(EvidenceId);
