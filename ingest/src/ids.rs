//! Typed ids: an equipment id can never be passed where a tenant id is expected.

/// Defines an `i64` id newtype with the conversions storage and HTTP need (and, with the
/// `openapi` feature, its schema: an integer).
#[macro_export]
macro_rules! typed_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        $crate::__typed_id_schema!($name);
    };
}

#[cfg(feature = "openapi")]
#[doc(hidden)]
#[macro_export]
macro_rules! __typed_id_schema {
    ($name:ident) => {
        impl $crate::__utoipa::PartialSchema for $name {
            fn schema()
            -> $crate::__utoipa::openapi::RefOr<$crate::__utoipa::openapi::schema::Schema> {
                <i64 as $crate::__utoipa::PartialSchema>::schema()
            }
        }

        impl $crate::__utoipa::ToSchema for $name {}
    };
}

#[cfg(not(feature = "openapi"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __typed_id_schema {
    ($name:ident) => {};
}

typed_id!(
    /// A dealer: the unit of isolation. Every row and every storage call carries one.
    TenantId
);
typed_id!(
    /// A copier or printer at a customer site.
    EquipmentId
);
typed_id!(
    /// One stored meter reading.
    ReadingId
);
typed_id!(
    /// An enrolled `printyx-agent` installation.
    AgentId
);
