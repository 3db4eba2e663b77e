//! What the client registry needs from storage. Each write goes with its audit event, in one
//! transaction.

use super::Client;
use crate::audit::AuditEvent;
use crate::store::StoreResult;
use crate::tokens::TokenHash;
use async_trait::async_trait;
use time::OffsetDateTime;

#[async_trait]
pub trait ClientStore: Send + Sync {
    /// Registers a new client; `ClientTaken` when the id is in use.
    async fn insert_client(&self, client: &Client, event: &AuditEvent) -> StoreResult<()>;

    /// Replaces everything but the id and `created_at` of an existing client, its secret's
    /// hash included; false when there is none.
    async fn update_client(&self, client: &Client, event: &AuditEvent) -> StoreResult<bool>;

    async fn find_client(&self, id: &str) -> StoreResult<Option<Client>>;

    /// Every client, by id.
    async fn list_clients(&self) -> StoreResult<Vec<Client>>;

    /// False when there was no such client.
    async fn delete_client(&self, id: &str, event: &AuditEvent) -> StoreResult<bool>;

    /// Replaces a confidential client's secret hash; false when there is no such client (or
    /// it is public).
    async fn set_client_secret(
        &self,
        id: &str,
        secret: Option<&TokenHash>,
        at: OffsetDateTime,
        event: &AuditEvent,
    ) -> StoreResult<bool>;
}
