//! The patch formats of PATCH requests: JSON merge patch (RFC 7386), JSON patch (RFC 6902),
//! strategic merge patch (core kinds) and server-side apply.
