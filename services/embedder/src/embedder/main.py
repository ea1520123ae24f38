"""embedder: products.catalog, chat.messages and user.events -> vectors in Milvus and/or Qdrant.

\b
python -m embedder [run]                        consume until SIGTERM (creates the collections)
python -m embedder search "running shoes" [--category C] [--min-price P] [--max-price P]
python -m embedder similar-products PRODUCT_ID   products nearest a product's vector
python -m embedder similar-users USER_ID         users whose profile vectors are nearest

The search commands print JSON. Settings come from EMBEDDER_* variables (model, stores,
collection prefix).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import typer

from embedder.bootstrap import bootstrap, build_store, collection_specs
from embedder.settings import EmbedderSettings
from polystream_common.cli import consumer_app, print_json
from polystream_common.logs import configure_logging
from polystream_common.runtime import consumer_main
from polystream_embeddings.encoder import load_encoder
from polystream_vectors import semantic
from polystream_vectors.store import VectorStore

T = TypeVar("T")
Limit = Annotated[int, typer.Option(min=1, max=100, help="results at most")]


def _run() -> None:
    consumer_main(EmbedderSettings, bootstrap)


app = consumer_app(
    __doc__ or "",
    _run,
    run_help="embed the catalog, chat messages and user profiles into the vector stores (default)",
)


def _query(collection: str, query: Callable[[VectorStore, str], Awaitable[T]]) -> None:
    """Run ``query`` on the first store of ``collection`` and print its result as JSON."""
    settings = EmbedderSettings()
    configure_logging(settings.log_level, json=settings.log_json)
    spec = collection_specs(settings)[collection]
    store_name = getattr(settings.stores, collection)[0]

    async def one_off() -> T:
        async with build_store(settings, store_name) as store:
            await store.ensure_collection(spec)
            return await query(store, spec.name)

    try:
        print_json(asyncio.run(one_off()))
    except (LookupError, ValueError) as exc:
        raise typer.BadParameter(str(exc)) from exc


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="what to look for, in words")],
    limit: Limit = 10,
    category: Annotated[str | None, typer.Option(help="only this category")] = None,
    min_price: Annotated[float | None, typer.Option(help="price at least")] = None,
    max_price: Annotated[float | None, typer.Option(help="price at most")] = None,
) -> None:
    """Products whose text means what QUERY says, best first (semantic, not keyword, search)."""
    settings = EmbedderSettings()
    encoder = load_encoder(settings.embedding)

    def run(store: VectorStore, collection: str) -> Awaitable[Any]:
        return semantic.search_products(
            encoder,
            store,
            query,
            limit=limit,
            category=category,
            min_price=min_price,
            max_price=max_price,
            collection=collection,
        )

    _query("products", run)


@app.command("similar-products")
def similar_products(
    product_id: Annotated[str, typer.Argument(help="the product's id")], limit: Limit = 10
) -> None:
    """The products most like PRODUCT_ID (by the vectors of their texts)."""
    _query(
        "products",
        lambda store, collection: semantic.similar_products(
            store, product_id, limit=limit, collection=collection
        ),
    )


@app.command("similar-users")
def similar_users(
    user_id: Annotated[str, typer.Argument(help="the user's id")], limit: Limit = 10
) -> None:
    """The users whose profile vectors are nearest USER_ID's."""
    _query(
        "user_profiles",
        lambda store, collection: semantic.similar_users(
            store, user_id, limit=limit, collection=collection
        ),
    )


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``python -m embedder``: run the consumer (default) or a search."""
    app(args=argv, prog_name="python -m embedder")
