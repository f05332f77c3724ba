//! HTTP mode (placeholder created by the engine core so the crate compiles; the HTTP helper
//! replaces this body). Contract: serve one accepted client connection of a `mode http`
//! frontend until it ends.

use super::conn::{ClientStream, ConnCtx, ConnInfo};

pub async fn serve(stream: ClientStream, info: ConnInfo, ctx: ConnCtx) -> anyhow::Result<()> {
    let _ = (stream, ctx);
    anyhow::bail!(
        "HTTP mode is not implemented yet (connection from {})",
        info.peer
    )
}
