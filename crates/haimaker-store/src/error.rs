//! `StoreError`: what a database call can fail with, and whether it means "the database is
//! unreachable" (the outage mode of `allow_requests_on_db_unavailable`) or a real error.

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No connection could be had: refused, timed out, the pool was exhausted past its wait
    /// timeout, or the connection broke.
    #[error("the database is unreachable: {0}")]
    Unavailable(String),
    /// The database answered with an error.
    #[error("database error while {doing}: {source}")]
    Query {
        doing: &'static str,
        #[source]
        source: tokio_postgres::Error,
    },
    #[error("invalid database url: {0}")]
    Url(String),
    #[error("{0}")]
    Invalid(String),
}

impl StoreError {
    /// Whether this is a connectivity problem (as opposed to a query the database refused).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }

    /// Classifies a tokio-postgres error from `doing`.
    pub fn query(doing: &'static str, source: tokio_postgres::Error) -> Self {
        // A closed connection or an I/O error is an outage; anything else without a server
        // code (a parameter that does not serialize, a row that does not parse) is a bug here.
        let io = std::error::Error::source(&source).is_some_and(|e| e.is::<std::io::Error>());
        if source.is_closed() || io {
            return Self::Unavailable(format!("{doing}: {source}"));
        }
        // 53300 too_many_connections, 57P0x admin/crash shutdown, 08xxx connection exceptions.
        let code = source
            .code()
            .map(|c| c.code().to_string())
            .unwrap_or_default();
        if code == "53300" || code.starts_with("57P0") || code.starts_with("08") {
            return Self::Unavailable(format!("{doing}: {source}"));
        }
        Self::Query { doing, source }
    }
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        Self::Unavailable(e.to_string())
    }
}
