-- collectd-dsmr: the schema and writer function for collectd's postgresql
-- plugin (<Writer> block). Load it into the database collectd writes to,
-- as the role collectd connects as:
--     psql -d dsmr -f dsmr.sql
-- collectd calls, for every value list it writes,
--     SELECT dsmr_insert($1, $2, $3, $4, $5, $6, $7, $8, $9);
-- with (time, host, plugin, plugin instance, type, type instance,
-- data source names[], data source types[], values[]).
-- Only the dsmr plugin's values are kept; one row per value.
-- Use StoreRates false in the <Writer> block: registers (energy in Wh, gas in
-- L) are then stored as the meter's exact readings, not as rates.

CREATE TABLE IF NOT EXISTS dsmr_values (
    time          timestamptz      NOT NULL,
    host          text             NOT NULL,
    meter         text             NOT NULL,  -- the <Meter "name"> block
    type          text             NOT NULL,  -- e.g. dsmr_energy, power, voltage
    type_instance text             NOT NULL,  -- e.g. import_t1, import, l1
    value         double precision NOT NULL,  -- Wh, L, W, V, A, ... (README)
    PRIMARY KEY (host, meter, type, type_instance, time)
);
CREATE INDEX IF NOT EXISTS dsmr_values_time ON dsmr_values (time);

CREATE OR REPLACE FUNCTION dsmr_insert(
    p_time timestamptz, p_host text, p_plugin text, p_plugin_instance text,
    p_type text, p_type_instance text, p_ds_names text[], p_ds_types text[],
    p_values double precision[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF p_plugin <> 'dsmr' THEN
        RETURN;  -- other plugins: not ours to keep (add your own table)
    END IF;
    FOR i IN 1 .. coalesce(array_length(p_values, 1), 0) LOOP
        -- NaN: collectd's "unknown"; nothing to keep.
        CONTINUE WHEN p_values[i] = 'NaN'::double precision;
        INSERT INTO dsmr_values (time, host, meter, type, type_instance, value)
        VALUES (p_time, p_host, coalesce(p_plugin_instance, ''), p_type,
                -- our types have one data source ("value"); a type with more
                -- would get the source's name appended
                CASE WHEN array_length(p_values, 1) = 1
                     THEN coalesce(p_type_instance, '')
                     ELSE concat_ws('-', nullif(p_type_instance, ''), p_ds_names[i])
                END,
                p_values[i])
        -- A value sent twice (collectd restarted, network resend): keep one.
        ON CONFLICT DO NOTHING;
    END LOOP;
END;
$$;

-- The latest reading of every value of every meter: what a web page shows.
CREATE OR REPLACE VIEW dsmr_latest AS
SELECT DISTINCT ON (host, meter, type, type_instance)
       host, meter, type, type_instance, time, value
  FROM dsmr_values
 ORDER BY host, meter, type, type_instance, time DESC;
