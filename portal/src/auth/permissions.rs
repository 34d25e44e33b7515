use std::fmt;

/// Declares the permission vocabulary: variant, stored name, and whether customer roles may
/// hold it (staff-only permissions act across accounts).
macro_rules! permissions {
    ($($variant:ident => $name:literal, customer: $customer:literal;)+) => {
        /// Everything a handler can require. Stored as `area.action` text in `role_permissions`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Permission { $($variant),+ }

        impl Permission {
            pub const ALL: &'static [Permission] = &[$(Permission::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $(Permission::$variant => $name),+ }
            }

            /// Whether a customer role may include it.
            pub fn customer_may_hold(self) -> bool {
                match self { $(Permission::$variant => $customer),+ }
            }

            pub fn parse(s: &str) -> Option<Self> {
                match s { $($name => Some(Permission::$variant),)+ _ => None }
            }
        }
    };
}

permissions! {
    AccountsRead => "accounts.read", customer: true;
    AccountsManage => "accounts.manage", customer: false;
    EquipmentRead => "equipment.read", customer: true;
    EquipmentManage => "equipment.manage", customer: false;
    ReadingsRead => "readings.read", customer: true;
    ReadingsSubmit => "readings.submit", customer: true;
    ReadingsReview => "readings.review", customer: false;
    RequestsRead => "requests.read", customer: true;
    RequestsCreate => "requests.create", customer: true;
    RequestsManage => "requests.manage", customer: false;
    OrdersRead => "orders.read", customer: true;
    OrdersCreate => "orders.create", customer: true;
    OrdersApprove => "orders.approve", customer: false;
    CatalogueManage => "catalogue.manage", customer: false;
    InvoicesRead => "invoices.read", customer: true;
    InvoicesManage => "invoices.manage", customer: false;
    PaymentsMake => "payments.make", customer: true;
    PaymentsManage => "payments.manage", customer: false;
    UsersRead => "users.read", customer: true;
    UsersManage => "users.manage", customer: true;
    RolesManage => "roles.manage", customer: false;
    AuditRead => "audit.read", customer: true;
    AgentsManage => "agents.manage", customer: false;
    MailIngest => "mail.ingest", customer: false;
    SettingsManage => "settings.manage", customer: false;
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role every tenant is created with; tenant admins may change or add roles afterwards.
#[derive(Debug)]
pub struct BuiltinRole {
    pub name: &'static str,
    /// "staff" or "customer"
    pub scope: &'static str,
    pub permissions: &'static [Permission],
}

use Permission::*;

pub const BUILTIN_ROLES: &[BuiltinRole] = &[
    BuiltinRole {
        name: "admin",
        scope: "staff",
        permissions: Permission::ALL,
    },
    BuiltinRole {
        name: "service",
        scope: "staff",
        permissions: &[
            AccountsRead,
            EquipmentRead,
            EquipmentManage,
            ReadingsRead,
            ReadingsReview,
            RequestsRead,
            RequestsCreate,
            RequestsManage,
            OrdersRead,
            AgentsManage,
            AuditRead,
        ],
    },
    BuiltinRole {
        name: "billing",
        scope: "staff",
        permissions: &[
            AccountsRead,
            AccountsManage,
            EquipmentRead,
            ReadingsRead,
            ReadingsReview,
            OrdersRead,
            OrdersApprove,
            CatalogueManage,
            InvoicesRead,
            InvoicesManage,
            PaymentsManage,
            AuditRead,
        ],
    },
    BuiltinRole {
        name: "account_admin",
        scope: "customer",
        permissions: &[
            AccountsRead,
            EquipmentRead,
            ReadingsRead,
            ReadingsSubmit,
            RequestsRead,
            RequestsCreate,
            OrdersRead,
            OrdersCreate,
            InvoicesRead,
            PaymentsMake,
            UsersRead,
            UsersManage,
            AuditRead,
        ],
    },
    BuiltinRole {
        name: "account_user",
        scope: "customer",
        permissions: &[
            AccountsRead,
            EquipmentRead,
            ReadingsRead,
            ReadingsSubmit,
            RequestsRead,
            RequestsCreate,
            OrdersRead,
            OrdersCreate,
            InvoicesRead,
        ],
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_area_dot_action_and_parse_back() {
        for p in Permission::ALL {
            let (area, action) = p.as_str().split_once('.').unwrap();
            assert!(!area.is_empty() && !action.is_empty());
            assert!(
                p.as_str()
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c == '.' || c == '_')
            );
            assert_eq!(Permission::parse(p.as_str()), Some(*p));
        }
        assert_eq!(Permission::parse("accounts.delete_everything"), None);
    }

    #[test]
    fn customer_roles_hold_no_staff_only_permission() {
        for role in BUILTIN_ROLES.iter().filter(|r| r.scope == "customer") {
            for p in role.permissions {
                assert!(p.customer_may_hold(), "{} must not hold {p}", role.name);
            }
        }
    }
}
