//! Loading, section by section: `managed-identity`, where `authentication-managed-identity`
//! gets its tokens. Unset values come from the environment as Azure's SDKs read it
//! (`AZURE_FEDERATED_TOKEN_FILE`, `AZURE_CLIENT_ID`, `AZURE_TENANT_ID`,
//! `AZURE_AUTHORITY_HOST`; `IDENTITY_ENDPOINT`, `IDENTITY_HEADER`), and `source: auto` picks
//! the kind the same way: workload identity federation, else the App Service / Container Apps
//! identity endpoint, else the instance metadata service (IMDS). Must not: serve requests.

use super::*;

/// IMDS's token endpoint.
const IMDS: &str = "http://169.254.169.254/metadata/identity/oauth2/token";
/// Entra ID's public cloud.
const AUTHORITY: &str = "https://login.microsoftonline.com/";

impl Loader {
    pub(super) fn managed_identity(
        &mut self,
        m: Option<&schema::ManagedIdentity>,
    ) -> Option<IdentitySource> {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let value = |s: &Option<S<String>>| s.as_ref().map(|v| v.value.trim().to_string());
        let (source, endpoint, client_id, tenant, token_file, header) = match m {
            Some(m) => (
                m.source.as_ref(),
                value(&m.endpoint),
                value(&m.client_id),
                value(&m.tenant_id),
                value(&m.federated_token_file),
                m.identity_header.as_ref(),
            ),
            None => (None, None, None, None, None, None),
        };
        let client_id = client_id.or_else(|| env("AZURE_CLIENT_ID"));
        let tenant = tenant.or_else(|| env("AZURE_TENANT_ID"));
        let token_file = token_file.or_else(|| env("AZURE_FEDERATED_TOKEN_FILE"));
        let identity_header = match header {
            Some(h) => self.password(&Some(h.clone())),
            None => env("IDENTITY_HEADER"),
        };
        let secret = m.and_then(|m| self.password(&m.client_secret));
        let kind = match source.map(|s| s.value.as_str()) {
            None | Some("auto") => {
                if token_file.is_some() && client_id.is_some() && tenant.is_some() {
                    "workload-identity"
                } else if (endpoint.is_some() || env("IDENTITY_ENDPOINT").is_some())
                    && identity_header.is_some()
                {
                    "app-service"
                } else {
                    "imds"
                }
            }
            Some(k @ ("imds" | "app-service" | "workload-identity" | "client-secret")) => k,
            Some(other) => {
                if let Some(s) = source {
                    self.at(
                        s,
                        format!("source '{other}': expected auto, imds, app-service, workload-identity or client-secret"),
                    );
                }
                return None;
            }
        };
        let token_url = |tenant: &str| {
            let authority = env("AZURE_AUTHORITY_HOST").unwrap_or_else(|| AUTHORITY.into());
            format!(
                "{}/{tenant}/oauth2/v2.0/token",
                authority.trim_end_matches('/')
            )
        };
        let mut missing = |what: &str| {
            let msg = format!(
                "managed-identity: source {kind} needs {what} (in the configuration or the environment)"
            );
            match source {
                Some(s) => self.at(s, msg),
                None => self.whole(msg),
            }
            None
        };
        Some(match kind {
            "imds" => IdentitySource::Imds {
                url: endpoint.unwrap_or_else(|| IMDS.into()),
                client_id,
            },
            "app-service" => {
                let Some(url) = endpoint.or_else(|| env("IDENTITY_ENDPOINT")) else {
                    return missing("endpoint (IDENTITY_ENDPOINT)");
                };
                let Some(header) = identity_header else {
                    return missing("identity-header (IDENTITY_HEADER)");
                };
                IdentitySource::AppService {
                    url,
                    header,
                    client_id,
                }
            }
            "workload-identity" => {
                let (Some(client_id), Some(tenant), Some(file)) = (client_id, tenant, token_file)
                else {
                    return missing("client-id, tenant-id and federated-token-file (AZURE_CLIENT_ID, AZURE_TENANT_ID, AZURE_FEDERATED_TOKEN_FILE)");
                };
                IdentitySource::Workload {
                    token_url: endpoint.unwrap_or_else(|| token_url(&tenant)),
                    client_id,
                    token_file: self.path(&file),
                }
            }
            _ => {
                let (Some(client_id), Some(tenant), Some(secret)) = (client_id, tenant, secret)
                else {
                    return missing("client-id, tenant-id and client-secret");
                };
                IdentitySource::ClientSecret {
                    token_url: endpoint.unwrap_or_else(|| token_url(&tenant)),
                    client_id,
                    secret,
                }
            }
        })
    }
}
