import type { INestApplication } from '@nestjs/common';
import { metrics } from '@opentelemetry/api';
import request from 'supertest';
import { createBankApp } from '../apps/bank/src/bank-app';
import { registerPrometheusMetrics } from '../apps/bank/src/metrics/metrics';

/** The bank's `/metrics` endpoint, fed by EventCore's OpenTelemetry instruments. */
describe('bank metrics (HTTP)', () => {
  let app: INestApplication;
  let http: ReturnType<typeof request>;

  beforeAll(async () => {
    const exporter = registerPrometheusMetrics();
    app = await createBankApp({ metrics: exporter, logger: false });
    await app.listen(0, '127.0.0.1');
    http = request(await app.getUrl());
  });

  afterAll(async () => {
    await app.close();
    metrics.disable();
  });

  it('exports command counts, durations and projection lag for Prometheus', async () => {
    await http.post('/accounts').send({ accountId: 'a', owner: 'A' }).expect(201);
    await http.post('/accounts').send({ accountId: 'b', owner: 'B' }).expect(201);
    await http.post('/accounts/a/deposits').send({ amount: 10 }).expect(201);
    await http.post('/transfers').send({ from: 'a', to: 'b', amount: 50 }).expect(409);
    const text = (await http.get('/metrics').expect(200)).text;
    const series = (name: string, labels: string) =>
      new RegExp(`${name}\\{${labels},[^}]*\\} (\\d+)`);
    expect(text).toMatch(
      series('eventcore_commands_total', 'command="OpenAccount",outcome="written"'),
    );
    expect(
      text.match(series('eventcore_commands_total', 'command="OpenAccount",outcome="written"'))![1],
    ).toBe('2');
    expect(text).toMatch(
      series(
        'eventcore_commands_total',
        'command="TransferMoney",outcome="eventcore\\.business_rule_violation"',
      ),
    );
    expect(
      text.match(
        series('eventcore_command_duration_count', 'command="Deposit",outcome="written"'),
      )![1],
    ).toBe('1');
    expect(text.match(series('eventcore_store_duration_count', 'operation="append"'))![1]).toBe(
      '3',
    );
    expect(text).toMatch(
      series('eventcore_projection_lag_events', 'projection="account-balances"'),
    );
  });
});
