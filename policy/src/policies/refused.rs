//! The APIM policies certgate refuses by name, and why: those that need an Azure service a
//! self-hosted edge cannot reach, and those certgate does not implement yet. A document using
//! one is refused at load with the element's location and this reason, never with a generic
//! "unknown policy". README lists the same table.

/// Why a policy APIM knows is refused; `None` when `name` is not an APIM policy certgate refuses.
pub(crate) fn why(name: &str) -> Option<String> {
    if let Some((_, service)) = AZURE_ONLY
        .iter()
        .find(|(n, _)| *n == name || (n.ends_with('*') && name.starts_with(&n[..n.len() - 1])))
    {
        return Some(format!(
            "<{name}> is an APIM policy that needs {service}, which certgate cannot reach; remove it or replace it"
        ));
    }
    NOT_YET.contains(&name).then(|| {
        format!(
            "<{name}> is an APIM policy that certgate does not implement yet (README: policies)"
        )
    })
}

/// Policies that only work with an Azure service behind APIM (`*`: a family by prefix).
pub(crate) const AZURE_ONLY: &[(&str, &str)] = &[
    ("log-to-eventhub", "Azure Event Hubs"),
    ("azure-openai-*", "Azure OpenAI and Azure Monitor"),
    (
        "llm-*",
        "APIM's AI gateway (token accounting, semantic cache, content safety)",
    ),
    ("publish-to-dapr", "a Dapr sidecar"),
    ("invoke-dapr-binding", "a Dapr sidecar"),
    ("get-authorization-context", "APIM's credential manager"),
    ("set-graphql-resolver", "APIM's GraphQL resolvers"),
    ("http-data-source", "APIM's GraphQL resolvers"),
    ("sql-data-source", "APIM's GraphQL resolvers and Azure SQL"),
    (
        "cosmosdb-data-source",
        "APIM's GraphQL resolvers and Azure Cosmos DB",
    ),
    ("publish-event", "APIM's GraphQL subscriptions"),
    ("validate-graphql-request", "APIM's GraphQL schema"),
    ("validate-odata-request", "APIM's OData API import"),
];

/// APIM policies certgate does not implement yet.
pub(crate) const NOT_YET: &[&str] = &[
    "xsl-transform",
    "validate-content",
    "validate-parameters",
    "validate-headers",
    "validate-status-code",
    "proxy",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_say_why() {
        assert!(why("log-to-eventhub").unwrap().contains("Azure Event Hubs"));
        assert!(why("azure-openai-token-limit")
            .unwrap()
            .contains("Azure OpenAI"));
        assert!(why("llm-semantic-cache-lookup")
            .unwrap()
            .contains("AI gateway"));
        assert!(why("xsl-transform")
            .unwrap()
            .contains("does not implement yet"));
        assert_eq!(why("set-header"), None);
        assert_eq!(why("no-such-policy"), None);
    }
}
