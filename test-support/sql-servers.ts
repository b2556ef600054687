/** The database servers the SQL storage tests run against, and the one check each test file makes for them. */
import { createConnection } from "mysql2/promise";
import pg from "pg";
import { describeUrl, requireService } from "./services";

/** The PostgreSQL server of the tests: MODELREG_TEST_POSTGRES_URL, or the local default. */
export const postgresUrl =
  process.env.MODELREG_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";

/** The MariaDB/MySQL server of the tests: MODELREG_TEST_MYSQL_URL, or the local default. */
export const mysqlUrl = process.env.MODELREG_TEST_MYSQL_URL ?? "mysql://root@127.0.0.1:3306/test";

/**
 * Whether PostgreSQL answers at {@link postgresUrl}: under CI a missing
 * server fails `file` loudly, elsewhere its tests skip with the reason (see
 * {@link requireService}).
 */
export function requirePostgres(file: string): Promise<boolean> {
  return requireService({
    service: "PostgreSQL",
    file,
    where: describeUrl(postgresUrl),
    envVar: "MODELREG_TEST_POSTGRES_URL",
    howToStart:
      "Debian: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start; " +
      "Docker: docker run -d -p 5432:5432 -e POSTGRES_HOST_AUTH_METHOD=trust -e POSTGRES_DB=test postgres:16",
    probe: async () => {
      const client = new pg.Client({ connectionString: postgresUrl, connectionTimeoutMillis: 3000 });
      client.on("error", () => {});
      try {
        await client.connect();
        await client.query("select 1");
      } finally {
        await client.end().catch(() => {});
      }
    },
  });
}

/** As {@link requirePostgres}, for MariaDB/MySQL at {@link mysqlUrl}. */
export function requireMysql(file: string): Promise<boolean> {
  return requireService({
    service: "MariaDB/MySQL",
    file,
    where: describeUrl(mysqlUrl),
    envVar: "MODELREG_TEST_MYSQL_URL",
    howToStart:
      "Debian: start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd; " +
      "Docker: docker run -d -p 3306:3306 -e MARIADB_ALLOW_EMPTY_ROOT_PASSWORD=1 -e MARIADB_DATABASE=test mariadb:11",
    probe: async () => {
      const connection = await createConnection({ uri: mysqlUrl, connectTimeout: 3000 });
      try {
        await connection.query("select 1");
      } finally {
        await connection.end().catch(() => {});
      }
    },
  });
}
