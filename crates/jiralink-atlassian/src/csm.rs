//! Customer Service Management (`{gateway}/jsm/csm/cloudid/{cloudId}/api/v1`): cursor paging.
//!
//! Lists answer `{"results":[…],"nextPageCursor":"…"}`; the next page is asked for with
//! `cursor=<nextPageCursor>` and paging stops when no cursor comes back. A cursor that repeats
//! ends the stream with an error instead of looping.

use futures::{Stream, stream};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use serde_json::{Map, Value};

use crate::{
    client::JiraClient,
    error::AtlassianError,
    operation::{
        CSM_CUSTOMER_DETAILS, CSM_ENTITLEMENTS, CSM_ORGANIZATION_DETAILS, CSM_PRODUCTS, Operation,
    },
    platform::{SeenPages, flatten_pages},
};

/// A customer detail field definition (`GET /customer/details`).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct DetailField {
    /// Field name, e.g. `Region`.
    pub name: String,
    /// Its type, e.g. `{"name":"SELECT","options":["AU","EU"]}`.
    #[serde(rename = "type", default)]
    pub field_type: Value,
    /// Everything else.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A product (`GET /product`).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct Product {
    /// Product id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Everything else.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CursorPage<T> {
    #[serde(default = "Vec::new")]
    results: Vec<T>,
    next_page_cursor: Option<String>,
}

/// Page size asked for.
pub const CURSOR_LIMIT: u32 = 50;

impl JiraClient {
    /// The first page of customer detail fields: a cheap authenticated read for connection
    /// tests.
    ///
    /// # Errors
    /// Any [`AtlassianError`].
    pub async fn csm_customer_details_page(&self) -> Result<Vec<DetailField>, AtlassianError> {
        self.csm_one_item_page(&CSM_CUSTOMER_DETAILS, &["customer", "details"])
            .await
    }

    /// The first page of organization detail fields: a cheap authenticated read for connection
    /// tests.
    ///
    /// # Errors
    /// Any [`AtlassianError`].
    pub async fn csm_organization_details_page(&self) -> Result<Vec<DetailField>, AtlassianError> {
        self.csm_one_item_page(&CSM_ORGANIZATION_DETAILS, &["organization", "details"])
            .await
    }

    /// A one-item page of products: a cheap authenticated read for connection tests.
    ///
    /// # Errors
    /// Any [`AtlassianError`].
    pub async fn csm_products_page(&self) -> Result<Vec<Product>, AtlassianError> {
        self.csm_one_item_page(&CSM_PRODUCTS, &["product"]).await
    }

    /// A one-item page of entitlements (as Jira sends them): a cheap authenticated read for
    /// connection tests.
    ///
    /// # Errors
    /// Any [`AtlassianError`].
    pub async fn csm_entitlements_page(&self) -> Result<Vec<Map<String, Value>>, AtlassianError> {
        self.csm_one_item_page(&CSM_ENTITLEMENTS, &["entitlements"])
            .await
    }

    async fn csm_one_item_page<T: DeserializeOwned>(
        &self,
        op: &'static Operation,
        segments: &[&str],
    ) -> Result<Vec<T>, AtlassianError> {
        let call = self.call(op, segments)?.query("limit", 1);
        let page: CursorPage<T> = self.json(call).await?;
        Ok(page.results)
    }

    /// Every customer detail field.
    pub fn csm_customer_details(
        &self,
    ) -> impl Stream<Item = Result<DetailField, AtlassianError>> + Send + 'static {
        self.csm_pages(&CSM_CUSTOMER_DETAILS, &["customer", "details"])
    }

    /// Every product.
    pub fn csm_products(
        &self,
    ) -> impl Stream<Item = Result<Product, AtlassianError>> + Send + 'static {
        self.csm_pages(&CSM_PRODUCTS, &["product"])
    }

    fn csm_pages<T: DeserializeOwned + Send + 'static>(
        &self,
        op: &'static Operation,
        segments: &'static [&'static str],
    ) -> impl Stream<Item = Result<T, AtlassianError>> + Send + 'static {
        let client = self.clone();
        let pages = stream::try_unfold(
            (Some(None::<String>), SeenPages::default()),
            move |(cursor, mut seen)| {
                let client = client.clone();
                async move {
                    let Some(cursor) = cursor else {
                        return Ok(None);
                    };
                    let mut call = client.call(op, segments)?.query("limit", CURSOR_LIMIT);
                    if let Some(c) = &cursor {
                        call = call.query("cursor", c);
                    }
                    let page: CursorPage<T> = client.json(call).await?;
                    let next = match page.next_page_cursor.filter(|c| !c.is_empty()) {
                        None => None,
                        Some(next) => Some(Some(seen.admit(next, op, "nextPageCursor")?)),
                    };
                    Ok(Some((page.results, (next, seen))))
                }
            },
        );
        flatten_pages(pages)
    }
}
