//! The JSON API's OpenAPI document (`GET /api/v1/openapi.json`), built from the route table:
//! every `/api/` route's method, path and access rule come from where it is declared
//! (`routes.rs`); what it takes and answers comes from [`DOCS`] and the types' `ToSchema`
//! derives. A declared API route without an entry here fails the route tests, so the document
//! cannot fall behind the server.

use super::routes::{Access, RouteSpec};
use crate::{
    audit, auth, billing, contracts, dashboard, equipment, mail, notifications, photos, profile,
    readings, requests, review, roles, supplies, tenants, users,
};
use axum::http::Method;
use utoipa::ToSchema;
use utoipa::openapi::path::{
    HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn, PathItem, PathsBuilder,
};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::response::{ResponseBuilder, ResponsesBuilder};
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, SchemaType, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, Ref, RefOr, Required,
    Schema,
};

/// Builds a schema into the document's components and answers the reference to it.
pub type Shape = fn(&mut Vec<(String, RefOr<Schema>)>) -> RefOr<Schema>;

fn one<T: ToSchema>(components: &mut Vec<(String, RefOr<Schema>)>) -> RefOr<Schema> {
    components.push((T::name().into_owned(), T::schema()));
    T::schemas(components);
    Ref::from_schema_name(T::name()).into()
}

fn many<T: ToSchema>(components: &mut Vec<(String, RefOr<Schema>)>) -> RefOr<Schema> {
    ArrayBuilder::new().items(one::<T>(components)).into()
}

/// What a request carries.
#[derive(Debug, Clone, Copy)]
pub enum Body {
    None,
    Json(Shape),
    /// `multipart/form-data` with one file in this field.
    Multipart(&'static str),
    /// The raw bytes of this media type.
    Raw(&'static str),
}

/// What a route answers when it succeeds (failures are problem+json, RFC 9457).
#[derive(Debug, Clone, Copy)]
pub enum Answer {
    Json(u16, Shape),
    NoContent,
    /// Bytes of this media type (a download, an image).
    Raw(&'static str),
    /// `text/event-stream`.
    Stream,
}

/// A query parameter: its name, whether an integer (else a string or boolean) and what for.
#[derive(Debug, Clone, Copy)]
pub enum Param {
    Int(&'static str, &'static str),
    Bool(&'static str, &'static str),
    Text(&'static str, &'static str),
}

/// What one API route takes and answers.
#[derive(Debug)]
pub struct Doc {
    pub method: &'static str,
    pub path: &'static str,
    pub summary: &'static str,
    pub query: &'static [Param],
    pub body: Body,
    pub answer: Answer,
}

const fn doc(
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    body: Body,
    answer: Answer,
) -> Doc {
    Doc {
        method,
        path,
        summary,
        query: &[],
        body,
        answer,
    }
}

const fn with_query(d: Doc, query: &'static [Param]) -> Doc {
    Doc { query, ..d }
}

use Answer::{Json as Ok, NoContent};
use Body::{Json, Multipart, None as Nothing, Raw};

const PAGE_AFTER: &[Param] = &[
    Param::Int("after", "the `next` of the previous page"),
    Param::Int("limit", "how many (at most 200)"),
];
const PAGE_BEFORE: &[Param] = &[
    Param::Int("before", "the `next` of the previous page"),
    Param::Int("limit", "how many (at most 200)"),
];

/// Every API route's request and answer. Order: as in `routes.rs`.
pub const DOCS: &[Doc] = &[
    doc(
        "GET",
        "/api/v1/openapi.json",
        "This document",
        Nothing,
        Answer::Raw("application/json"),
    ),
    doc(
        "POST",
        "/api/v1/password-reset",
        "Ask for a password reset e-mail (answered the same whether or not the address is known)",
        Json(one::<auth::http::Forgot>),
        Ok(202, one::<auth::http::Accepted>),
    ),
    doc(
        "POST",
        "/api/v1/password-reset/confirm",
        "Set a new password with the e-mailed token",
        Json(one::<auth::http::Reset>),
        NoContent,
    ),
    doc(
        "GET",
        "/api/v1/dashboard",
        "What needs attention: the start page's cards and chart",
        Nothing,
        Ok(200, one::<dashboard::Summary>),
    ),
    doc(
        "GET",
        "/api/v1/me",
        "The signed-in user",
        Nothing,
        Ok(200, one::<profile::http::Me>),
    ),
    doc(
        "PUT",
        "/api/v1/me",
        "Change one's name and preferences",
        Json(one::<profile::http::ProfileBody>),
        Ok(200, one::<profile::http::Me>),
    ),
    doc(
        "POST",
        "/api/v1/me/password",
        "Change one's password (ends every other session)",
        Json(one::<profile::http::PasswordBody>),
        Ok(200, one::<profile::http::SessionsEnded>),
    ),
    doc(
        "GET",
        "/api/v1/me/sessions",
        "One's sessions",
        Nothing,
        Ok(200, many::<auth::session::SessionInfo>),
    ),
    doc(
        "DELETE",
        "/api/v1/me/sessions",
        "End all of one's sessions",
        Nothing,
        Ok(200, one::<profile::http::SessionsEnded>),
    ),
    doc(
        "GET",
        "/api/v1/me/export",
        "All of one's data, as a file",
        Nothing,
        Answer::Raw("application/json"),
    ),
    doc(
        "GET",
        "/api/v1/me/api-tokens",
        "One's API tokens",
        Nothing,
        Ok(200, many::<auth::ApiTokenInfo>),
    ),
    doc(
        "POST",
        "/api/v1/me/api-tokens",
        "Make an API token (shown once)",
        Json(one::<profile::http::TokenBody>),
        Ok(201, one::<profile::http::NewToken>),
    ),
    doc(
        "DELETE",
        "/api/v1/me/api-tokens/{api_token}",
        "Revoke an API token",
        Nothing,
        NoContent,
    ),
    with_query(
        doc(
            "GET",
            "/api/v1/requests",
            "Service requests, newest first",
            Nothing,
            Ok(200, one::<requests::http::RequestsPage>),
        ),
        &[
            Param::Int("before", "the `next` of the previous page"),
            Param::Int("limit", "how many (at most 200)"),
            Param::Bool("open", "open requests only (default true)"),
            Param::Int("equipment", "of this device only"),
        ],
    ),
    doc(
        "POST",
        "/api/v1/requests",
        "Open a service request",
        Json(one::<requests::http::NewBody>),
        Ok(201, one::<requests::RequestView>),
    ),
    doc(
        "GET",
        "/api/v1/requests/{request}",
        "A service request with its timeline and attachments",
        Nothing,
        Ok(200, one::<requests::http::Detail>),
    ),
    doc(
        "POST",
        "/api/v1/requests/{request}/attachments",
        "Attach a photo or PDF",
        Multipart("file"),
        Ok(201, many::<requests::Attachment>),
    ),
    doc(
        "POST",
        "/api/v1/requests/{request}/comments",
        "Comment (staff may make it internal)",
        Json(one::<requests::http::CommentBody>),
        Ok(200, one::<requests::RequestView>),
    ),
    doc(
        "POST",
        "/api/v1/requests/{request}/status",
        "Move a request along its lifecycle",
        Json(one::<requests::http::StatusBody>),
        Ok(200, one::<requests::RequestView>),
    ),
    doc(
        "PUT",
        "/api/v1/requests/{request}/assignment",
        "Assign a technician",
        Json(one::<requests::http::AssignBody>),
        Ok(200, one::<requests::RequestView>),
    ),
    doc(
        "PUT",
        "/api/v1/requests/{request}/schedule",
        "Schedule the visit",
        Json(one::<requests::http::ScheduleBody>),
        Ok(200, one::<requests::RequestView>),
    ),
    with_query(
        doc(
            "GET",
            "/api/v1/invoices",
            "Invoices, newest first",
            Nothing,
            Ok(200, one::<billing::http::InvoicesPage>),
        ),
        &[
            Param::Int("before", "the `next` of the previous page"),
            Param::Int("limit", "how many (at most 500)"),
        ],
    ),
    doc(
        "GET",
        "/api/v1/invoices/{invoice}",
        "An invoice with its lines and the readings and values each was computed from",
        Nothing,
        Ok(200, one::<billing::http::InvoiceDetail>),
    ),
    doc(
        "GET",
        "/api/v1/invoices/{invoice}/csv",
        "An invoice's lines as CSV",
        Nothing,
        Answer::Raw("text/csv"),
    ),
    with_query(
        doc(
            "POST",
            "/api/v1/webhooks/stripe",
            "Stripe's events for a dealer, signed (Stripe-Signature, at most 5 minutes old), each taken once",
            Raw("application/json"),
            Ok(200, one::<billing::http::WebhookAnswer>),
        ),
        &[Param::Text("tenant", "the dealer's short name")],
    ),
    doc(
        "PUT",
        "/api/v1/autopay",
        "Pay new invoices automatically with one of the account's methods, or stop",
        Json(one::<billing::http::AutopayBody>),
        NoContent,
    ),
    doc(
        "POST",
        "/api/v1/payments/wire",
        "Record a wire transfer found on the bank statement against open invoices (billing staff)",
        Json(one::<billing::http::WireBody>),
        Ok(201, one::<billing::store::PaymentView>),
    ),
    doc(
        "GET",
        "/api/v1/payment-methods",
        "The account's payment methods (processor tokens; never a number)",
        Nothing,
        Ok(200, many::<billing::store::MethodView>),
    ),
    doc(
        "POST",
        "/api/v1/payment-methods",
        "Add a card or bank account by the processor's token",
        Json(one::<billing::http::MethodBody>),
        Ok(201, one::<billing::store::MethodView>),
    ),
    doc(
        "GET",
        "/api/v1/payments",
        "Payments, newest first, with what each paid",
        Nothing,
        Ok(200, many::<billing::store::PaymentView>),
    ),
    doc(
        "POST",
        "/api/v1/payments",
        "Pay one or several invoices, all or part (Idempotency-Key header: the same key again is the same payment, 200)",
        Json(one::<billing::http::PayBody>),
        Ok(201, one::<billing::store::PaymentView>),
    ),
    doc(
        "POST",
        "/api/v1/contracts",
        "Create a contract with its rates, covered items and devices (all or nothing)",
        Json(one::<contracts::ContractBody>),
        Ok(201, one::<contracts::ContractView>),
    ),
    doc(
        "GET",
        "/api/v1/contracts/{contract}",
        "A contract with its rates and devices",
        Nothing,
        Ok(200, one::<contracts::ContractView>),
    ),
    with_query(
        doc(
            "GET",
            "/api/v1/contracts/{contract}/invoice-preview",
            "The contract's next invoice, without issuing it (dry run)",
            Nothing,
            Ok(200, one::<billing::invoices::Preview>),
        ),
        &[Param::Text(
            "on",
            "the period ending on or before this day (YYYY-MM-DD); today when left out",
        )],
    ),
    doc(
        "POST",
        "/api/v1/contracts/{contract}/invoices",
        "Issue the contract's invoice for the period ending on or before `on` (once per period)",
        Json(one::<billing::http::IssueBody>),
        Ok(201, one::<billing::store::InvoiceView>),
    ),
    doc(
        "GET",
        "/api/v1/catalogue",
        "The dealer's whole catalogue, by SKU",
        Nothing,
        Ok(200, many::<supplies::store::ItemView>),
    ),
    doc(
        "POST",
        "/api/v1/catalogue",
        "Add an item, or replace the one with its SKU",
        Json(one::<supplies::RawItem>),
        Ok(200, one::<supplies::store::ItemView>),
    ),
    doc(
        "GET",
        "/api/v1/catalogue/export",
        "The catalogue as CSV (what the import reads)",
        Nothing,
        Answer::Raw("text/csv"),
    ),
    doc(
        "POST",
        "/api/v1/catalogue/import",
        "Import a CSV catalogue: every row checked first, then all stored or none",
        Raw("text/csv"),
        Ok(200, one::<supplies::http::Imported>),
    ),
    doc(
        "GET",
        "/api/v1/equipment/{equipment}/supplies",
        "What may be ordered for a device, and what it costs (0 when its contract covers it)",
        Nothing,
        Ok(200, many::<supplies::catalogue::Offer>),
    ),
    doc(
        "POST",
        "/api/v1/orders/quote",
        "Price order lines without placing them",
        Json(one::<supplies::http::QuoteBody>),
        Ok(200, one::<supplies::orders::Quote>),
    ),
    doc(
        "POST",
        "/api/v1/orders",
        "Place an order (Idempotency-Key header: the same key again answers with the same order, 200)",
        Json(one::<supplies::http::CheckoutBody>),
        Ok(201, one::<supplies::http::OrderDetail>),
    ),
    doc(
        "GET",
        "/api/v1/cart",
        "One's cart, priced as it would be ordered now",
        Nothing,
        Ok(200, one::<supplies::orders::Quote>),
    ),
    doc(
        "PUT",
        "/api/v1/cart",
        "Set quantities in one's cart (0 takes a line out); all checked, all or none",
        Json(one::<supplies::http::QuoteBody>),
        Ok(200, one::<supplies::orders::Quote>),
    ),
    doc(
        "DELETE",
        "/api/v1/cart",
        "Empty one's cart",
        Nothing,
        NoContent,
    ),
    doc(
        "POST",
        "/api/v1/cart/checkout",
        "Order the cart and empty it (Idempotency-Key header, as for POST /api/v1/orders)",
        Json(one::<supplies::http::CartCheckoutBody>),
        Ok(201, one::<supplies::http::OrderDetail>),
    ),
    with_query(
        doc(
            "GET",
            "/api/v1/orders",
            "Supply orders, newest first",
            Nothing,
            Ok(200, one::<supplies::http::OrdersPage>),
        ),
        &[
            Param::Int("before", "the `next` of the previous page"),
            Param::Int("limit", "how many (at most 500)"),
            Param::Int("equipment", "with a line for this device"),
            Param::Text("status", "in this status only"),
            Param::Bool("open", "not yet delivered or cancelled"),
        ],
    ),
    doc(
        "GET",
        "/api/v1/orders/{order}",
        "An order with its lines and timeline",
        Nothing,
        Ok(200, one::<supplies::http::OrderDetail>),
    ),
    doc(
        "POST",
        "/api/v1/orders/{order}/status",
        "Move an order along (approve, pick, ship with carrier and tracking, deliver, cancel)",
        Json(one::<supplies::http::StatusBody>),
        Ok(200, one::<supplies::store::OrderView>),
    ),
    with_query(
        doc(
            "GET",
            "/api/v1/notifications",
            "One's notifications, newest first",
            Nothing,
            Ok(200, one::<notifications::http::NotificationsPage>),
        ),
        PAGE_BEFORE,
    ),
    with_query(
        doc(
            "GET",
            "/api/v1/notifications/stream",
            "New notifications as they come (server-sent events)",
            Nothing,
            Answer::Stream,
        ),
        &[Param::Int("after", "the last notification id seen")],
    ),
    doc(
        "POST",
        "/api/v1/notifications/read-all",
        "Mark all read",
        Nothing,
        Ok(200, one::<notifications::http::MarkedRead>),
    ),
    doc(
        "POST",
        "/api/v1/notifications/{notification}/read",
        "Mark one read",
        Nothing,
        NoContent,
    ),
    doc(
        "GET",
        "/api/v1/notifications/preferences",
        "Which events reach one, and how",
        Nothing,
        Ok(200, many::<notifications::http::Preference>),
    ),
    doc(
        "PUT",
        "/api/v1/notifications/preferences",
        "Choose which events reach one, and how",
        Json(many::<notifications::http::Preference>),
        Ok(200, many::<notifications::http::Preference>),
    ),
    doc(
        "GET",
        "/api/v1/users",
        "People",
        Nothing,
        Ok(200, many::<users::manage::UserView>),
    ),
    doc(
        "GET",
        "/api/v1/users/{user}",
        "A person",
        Nothing,
        Ok(200, one::<users::manage::UserView>),
    ),
    doc(
        "PUT",
        "/api/v1/users/{user}/roles",
        "Set a person's roles",
        Json(one::<users::http::RolesBody>),
        Ok(200, one::<users::manage::UserView>),
    ),
    doc(
        "POST",
        "/api/v1/users/{user}/disable",
        "Disable a person (ends their sessions and tokens)",
        Nothing,
        Ok(200, one::<users::manage::UserView>),
    ),
    doc(
        "POST",
        "/api/v1/users/{user}/enable",
        "Enable a person again",
        Nothing,
        Ok(200, one::<users::manage::UserView>),
    ),
    doc(
        "POST",
        "/api/v1/users/{user}/erase",
        "Erase a person's personal data",
        Nothing,
        NoContent,
    ),
    doc(
        "GET",
        "/api/v1/invitations",
        "Open invitations",
        Nothing,
        Ok(200, many::<users::invitations::Invitation>),
    ),
    doc(
        "POST",
        "/api/v1/invitations",
        "Invite someone",
        Json(one::<users::http::InviteBody>),
        Ok(201, one::<users::invitations::Invitation>),
    ),
    doc(
        "GET",
        "/api/v1/permissions",
        "Every permission, with what it allows",
        Nothing,
        Ok(200, many::<roles::http::PermissionInfo>),
    ),
    doc(
        "GET",
        "/api/v1/roles",
        "Roles",
        Nothing,
        Ok(200, many::<roles::RoleView>),
    ),
    doc(
        "POST",
        "/api/v1/roles",
        "Make a role",
        Json(one::<roles::http::NewRole>),
        Ok(201, one::<roles::RoleView>),
    ),
    doc(
        "PUT",
        "/api/v1/roles/{role}",
        "Change a role",
        Json(one::<roles::http::RoleChange>),
        Ok(200, one::<roles::RoleView>),
    ),
    doc(
        "DELETE",
        "/api/v1/roles/{role}",
        "Delete a role nobody holds",
        Nothing,
        NoContent,
    ),
    doc(
        "GET",
        "/api/v1/settings/security",
        "The dealer's security settings",
        Nothing,
        Ok(200, one::<tenants::security::SecuritySettings>),
    ),
    doc(
        "PUT",
        "/api/v1/settings/security",
        "Change the dealer's security settings",
        Json(one::<tenants::security::SecuritySettings>),
        Ok(200, one::<tenants::security::SecuritySettings>),
    ),
    with_query(
        doc(
            "GET",
            "/api/v1/audit-log",
            "The audit trail, newest first",
            Nothing,
            Ok(200, one::<audit::http::EntriesPage>),
        ),
        PAGE_BEFORE,
    ),
    with_query(
        doc(
            "GET",
            "/api/v1/equipment",
            "Devices",
            Nothing,
            Ok(200, one::<equipment::http::EquipmentPage>),
        ),
        PAGE_AFTER,
    ),
    doc(
        "GET",
        "/api/v1/equipment/{equipment}",
        "A device with its months, supplies and alerts",
        Nothing,
        Ok(200, one::<equipment::http::DeviceJson>),
    ),
    with_query(
        doc(
            "GET",
            "/api/v1/equipment/{equipment}/readings",
            "A device's readings, newest first",
            Nothing,
            Ok(200, one::<readings::http::ReadingsPage>),
        ),
        &[Param::Text("before", "the `next` of the previous page")],
    ),
    doc(
        "POST",
        "/api/v1/equipment/{equipment}/readings",
        "Send a device's meters; answered with the validation's decision",
        Json(one::<readings::http::Submission>),
        Ok(200, one::<ingest::wire::ObservationResult>),
    ),
    doc(
        "GET",
        "/api/v1/readings/{reading}/evidence",
        "Where a reading came from",
        Nothing,
        Ok(200, one::<readings::http::EvidenceJson>),
    ),
    doc(
        "POST",
        "/api/v1/agent/enroll",
        "Enrol an agent with its one-time code",
        Json(one::<ingest::wire::EnrollRequest>),
        Ok(200, one::<ingest::wire::EnrollResponse>),
    ),
    doc(
        "POST",
        "/api/v1/agent/readings",
        "An agent's batch of observations (idempotent)",
        Json(one::<ingest::wire::Batch>),
        Ok(200, one::<ingest::wire::BatchResponse>),
    ),
    with_query(
        doc(
            "GET",
            "/api/v1/review-items",
            "Readings waiting for review",
            Nothing,
            Ok(200, one::<review::http::ItemsPage>),
        ),
        PAGE_AFTER,
    ),
    doc(
        "POST",
        "/api/v1/review-items/{review_item}/decision",
        "Decide a reading under review",
        Json(one::<review::Decision>),
        Ok(200, one::<review::ReviewItem>),
    ),
    doc(
        "GET",
        "/api/v1/discovered-devices",
        "Devices agents found that are not registered",
        Nothing,
        Ok(200, many::<equipment::DiscoveredDevice>),
    ),
    doc(
        "POST",
        "/api/v1/equipment/{equipment}/meter-photos",
        "A photo of a device's counter, read at once",
        Multipart("photo"),
        Ok(200, one::<photos::flow::PhotoRead>),
    ),
    doc(
        "POST",
        "/api/v1/meter-photos/{meter_photo}/confirm",
        "Confirm (or correct) what a photo was read as",
        Json(one::<photos::flow::Confirmation>),
        Ok(200, one::<photos::flow::Confirmed>),
    ),
    doc(
        "GET",
        "/api/v1/meter-photos/{meter_photo}/image",
        "The photo",
        Nothing,
        Answer::Raw("image/jpeg"),
    ),
    doc(
        "POST",
        "/api/v1/inbound-email",
        "A raw meter e-mail, from a mail server's webhook",
        Raw("message/rfc822"),
        Ok(200, one::<mail::Receipt>),
    ),
];

const PROBLEM: &str = "Problem";

fn problem_schema() -> Schema {
    let text = || ObjectBuilder::new().schema_type(Type::String);
    ObjectBuilder::new()
        .description(Some("An error (RFC 9457)."))
        .property("type", text())
        .property("title", text())
        .property("status", ObjectBuilder::new().schema_type(Type::Integer))
        .property("detail", text())
        .required("type")
        .required("title")
        .required("status")
        .into()
}

fn http_method(m: &Method) -> HttpMethod {
    match *m {
        Method::POST => HttpMethod::Post,
        Method::PUT => HttpMethod::Put,
        Method::DELETE => HttpMethod::Delete,
        Method::PATCH => HttpMethod::Patch,
        _ => HttpMethod::Get,
    }
}

/// The document for these routes (the `/api/` ones; pages are not part of the API).
pub fn document(routes: &[RouteSpec]) -> OpenApi {
    let mut components = Vec::new();
    let mut paths = PathsBuilder::new();
    let mut items: Vec<(&str, HttpMethod, utoipa::openapi::path::Operation)> = Vec::new();
    for route in routes.iter().filter(|r| r.path.starts_with("/api/")) {
        let Some(d) = DOCS
            .iter()
            .find(|d| d.method == route.method.as_str() && d.path == route.path)
        else {
            continue;
        };
        let tag = route
            .path
            .trim_start_matches("/api/v1/")
            .split(['/', '.'])
            .next()
            .unwrap_or("api");
        let mut op = OperationBuilder::new()
            .summary(Some(d.summary))
            .operation_id(Some(format!(
                "{}_{}",
                route.method.as_str().to_lowercase(),
                route
                    .path
                    .trim_start_matches("/api/v1/")
                    .replace(['/', '{', '}', '-', '.'], "_")
            )))
            .tag(tag);
        let (security, who) = match route.access {
            Access::Public | Access::PublicForm => (None, "Anyone.".to_owned()),
            Access::Agent => (Some("agent_token"), "An enrolled agent's token.".to_owned()),
            Access::Permission(p) => (
                Some("api_token"),
                format!("Needs the `{}` permission.", p.as_str()),
            ),
            Access::SignedIn | Access::During(_) => {
                (Some("api_token"), "Any signed-in user.".to_owned())
            }
        };
        op = op.description(Some(who));
        if let Some(scheme) = security {
            op = op.security(SecurityRequirement::new(scheme, Vec::<String>::new()));
        }
        for segment in route.path.split('/') {
            if let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                op = op.parameter(
                    ParameterBuilder::new()
                        .name(name)
                        .parameter_in(ParameterIn::Path)
                        .required(Required::True)
                        .schema(Some(
                            ObjectBuilder::new().schema_type(Type::Integer).format(Some(
                                utoipa::openapi::SchemaFormat::KnownFormat(
                                    utoipa::openapi::KnownFormat::Int64,
                                ),
                            )),
                        )),
                );
            }
        }
        for q in d.query {
            let (name, kind, about) = match *q {
                Param::Int(n, a) => (n, Type::Integer, a),
                Param::Bool(n, a) => (n, Type::Boolean, a),
                Param::Text(n, a) => (n, Type::String, a),
            };
            op = op.parameter(
                ParameterBuilder::new()
                    .name(name)
                    .parameter_in(ParameterIn::Query)
                    .required(Required::False)
                    .description(Some(about))
                    .schema(Some(ObjectBuilder::new().schema_type(kind))),
            );
        }
        let body = match d.body {
            Body::None => None,
            Body::Json(shape) => Some(("application/json", shape(&mut components))),
            Body::Multipart(field) => Some((
                "multipart/form-data",
                ObjectBuilder::new()
                    .property(
                        field,
                        ObjectBuilder::new()
                            .schema_type(Type::String)
                            .content_media_type("application/octet-stream"),
                    )
                    .required(field)
                    .into(),
            )),
            Body::Raw(media) => Some((
                media,
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .content_media_type(media)
                    .into(),
            )),
        };
        if let Some((media, schema)) = body {
            op = op.request_body(Some(
                RequestBodyBuilder::new()
                    .content(media, ContentBuilder::new().schema(Some(schema)).build())
                    .required(Some(Required::True))
                    .build(),
            ));
        }
        let problem = ResponseBuilder::new()
            .description("An error, described (RFC 9457).")
            .content(
                "application/problem+json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name(PROBLEM)))
                    .build(),
            );
        let ok = match d.answer {
            Answer::Json(status, shape) => (
                status,
                ResponseBuilder::new().description("Done.").content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(shape(&mut components)))
                        .build(),
                ),
            ),
            Answer::NoContent => (204, ResponseBuilder::new().description("Done.")),
            Answer::Raw(media) => (
                200,
                ResponseBuilder::new().description("The file.").content(
                    media,
                    ContentBuilder::new()
                        .schema(Some(ObjectBuilder::new().schema_type(SchemaType::AnyValue)))
                        .build(),
                ),
            ),
            Answer::Stream => (
                200,
                ResponseBuilder::new()
                    .description(
                        "Server-sent events: `notification` (JSON) and `unread` (a count).",
                    )
                    .content(
                        "text/event-stream",
                        ContentBuilder::new()
                            .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                            .build(),
                    ),
            ),
        };
        op = op.responses(
            ResponsesBuilder::new()
                .response(ok.0.to_string(), ok.1)
                .response("default", problem)
                .build(),
        );
        items.push((route.path, http_method(&route.method), op.build()));
    }
    for (path, method, op) in items {
        paths = paths.path(path, PathItem::new(method, op));
    }
    components.sort_by(|a, b| a.0.cmp(&b.0));
    components.dedup_by(|a, b| a.0 == b.0);
    let components = ComponentsBuilder::new()
        .schemas_from_iter(components)
        .schema(PROBLEM, problem_schema())
        .security_scheme(
            "api_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An API token made on the profile page (`pxt_…`)."))
                    .build(),
            ),
        )
        .security_scheme(
            "agent_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("The token an agent got at enrolment."))
                    .build(),
            ),
        )
        .build();
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("Printyx")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "The dealer portal's JSON API. Times are epoch milliseconds (UTC); lists \
                     are pages with a `next` cursor; errors are problem+json (RFC 9457).",
                )),
        )
        .paths(paths.build())
        .components(Some(components))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_entry_is_one_route() {
        for (i, d) in DOCS.iter().enumerate() {
            assert!(
                DOCS[i + 1..]
                    .iter()
                    .all(|o| o.method != d.method || o.path != d.path),
                "{} {} twice",
                d.method,
                d.path
            );
            assert!(d.path.starts_with("/api/v1/"));
        }
    }
}
