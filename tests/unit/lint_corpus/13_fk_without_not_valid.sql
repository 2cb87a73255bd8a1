-- expect: constraint-not-valid
SET lock_timeout = '5s';
ALTER TABLE orders ADD CONSTRAINT orders_tenant_fk FOREIGN KEY (tenant_id) REFERENCES tenants (id);
