-- shop-api's schema: the catalog (fed from products.catalog), customers, orders and the outbox.
-- Applied by polystream_common.migrations (shop_api.store.SHOP_MIGRATIONS) in the settings' schema.

CREATE TABLE customers (
    customer_id text PRIMARY KEY,
    first_order_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- stock is owned by the order flow: the catalog consumer sets it only when it first sees a
-- product (settings.initial_stock) and never updates it afterwards.
CREATE TABLE products (
    product_id text PRIMARY KEY,
    name text NOT NULL,
    description text NOT NULL DEFAULT '',
    category text NOT NULL,
    price numeric(12, 2) NOT NULL CHECK (price >= 0),
    stock integer NOT NULL CHECK (stock >= 0),
    attributes jsonb NOT NULL DEFAULT '{}'::jsonb,
    active boolean NOT NULL DEFAULT true,
    catalog_event_time timestamptz NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
-- jsonb_path_ops: smaller and faster than the default opclass for @> (the only operator used).
CREATE INDEX products_attributes_gin ON products USING gin (attributes jsonb_path_ops);
CREATE INDEX products_category ON products (category);

CREATE TABLE orders (
    order_id uuid PRIMARY KEY,
    idempotency_key text NOT NULL,
    request_hash text NOT NULL,
    customer_id text NOT NULL REFERENCES customers (customer_id),
    total numeric(14, 2) NOT NULL CHECK (total >= 0),
    placed_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT orders_idempotency_key UNIQUE (idempotency_key)
);
-- order history: a customer's orders, newest first
CREATE INDEX orders_customer_placed ON orders (customer_id, placed_at DESC);
CREATE INDEX orders_placed_at ON orders (placed_at);

-- no foreign key to products: a product deleted from the catalog keeps its sales
CREATE TABLE order_items (
    order_id uuid NOT NULL REFERENCES orders (order_id) ON DELETE CASCADE,
    product_id text NOT NULL,
    quantity integer NOT NULL CHECK (quantity > 0),
    unit_price numeric(12, 2) NOT NULL CHECK (unit_price >= 0),
    PRIMARY KEY (order_id, product_id)
);
CREATE INDEX order_items_product ON order_items (product_id);

-- The transactional outbox: written in the order's transaction, published by the relay.
CREATE TABLE outbox (
    id bigserial PRIMARY KEY,
    topic text NOT NULL,
    key bytea NOT NULL,
    payload bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);
CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;
