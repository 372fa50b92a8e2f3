import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { ALL_EVENTS, InMemoryEventStore } from '@eventcore/core';
import { createCoursesApp } from '../apps/courses/src/courses-app';

/** The course sample over HTTP, in memory: its routes, rules and answers. */
describe('courses (HTTP)', () => {
  let store: InMemoryEventStore;
  let app: INestApplication;
  let http: ReturnType<typeof request>;

  beforeEach(async () => {
    store = new InMemoryEventStore();
    app = await createCoursesApp({
      eventStore: store,
      maxSubscriptionsPerStudent: 2,
      logger: false,
    });
    await app.listen(0, '127.0.0.1');
    http = request(await app.getUrl());
  });

  afterEach(async () => {
    await app.close();
  });

  const subscribe = (courseId: string, studentId: string) =>
    http.post(`/courses/${courseId}/subscriptions`).send({ studentId });

  it('defines courses, subscribes students and shows both sides', async () => {
    const definedCourse = await http
      .post('/courses')
      .send({ courseId: 'c1', capacity: 2 })
      .expect(201);
    expect(definedCourse.body).toMatchObject({ commandId: expect.any(String), attempts: 1 });
    await http.post('/courses').send({ courseId: 'c2', capacity: 1 }).expect(201);
    await subscribe('c1', 's1').expect(201);
    await subscribe('c2', 's1').expect(201);
    await subscribe('c1', 's2').expect(201);

    expect((await http.get('/courses/c1').expect(200)).body).toEqual({
      courseId: 'c1',
      capacity: 2,
      students: ['s1', 's2'],
      position: expect.any(Number),
    });
    expect((await http.get('/students/s1').expect(200)).body).toMatchObject({
      studentId: 's1',
      courses: ['c1', 'c2'],
    });
    expect((await http.get('/students/s9').expect(200)).body).toMatchObject({ courses: [] });

    // One event per subscription, in no stream, tagged with the student and the course.
    const { events } = await store.read(ALL_EVENTS);
    expect(events.filter((e) => e.type === 'StudentSubscribedToCourse')[0]).toMatchObject({
      streamId: expect.stringMatching(/^\$event-/),
      tags: ['student:s1', 'course:c1'],
      data: { courseId: 'c1', studentId: 's1' },
    });
  });

  it('answers each broken rule with its code: 404 for an unknown course, 409 for the others', async () => {
    await http.post('/courses').send({ courseId: 'c1', capacity: 1 }).expect(201);
    await http.post('/courses').send({ courseId: 'c2', capacity: 5 }).expect(201);
    await http.post('/courses').send({ courseId: 'c3', capacity: 5 }).expect(201);
    const code = async (response: request.Test, status: number) =>
      ((await response.expect(status)).body as { code: string }).code;

    expect(await code(http.post('/courses').send({ courseId: 'c1', capacity: 3 }), 409)).toBe(
      'course.already_defined',
    );
    expect(await code(subscribe('nope', 's1'), 404)).toBe('course.not_found');
    expect(await code(http.get('/courses/nope'), 404)).toBe('course.not_found');
    await subscribe('c1', 's1').expect(201);
    expect(await code(subscribe('c1', 's1'), 409)).toBe('course.already_subscribed');
    expect(await code(subscribe('c1', 's2'), 409)).toBe('course.full');
    await subscribe('c2', 's1').expect(201);
    expect(await code(subscribe('c3', 's1'), 409)).toBe('student.subscription_limit');
    expect(await code(http.delete('/courses/c3/subscriptions/s1'), 409)).toBe(
      'course.not_subscribed',
    );
    expect(await code(http.post('/courses/c1/capacity').send({ capacity: 0 }), 400)).toBe(
      'request.invalid',
    );
  });

  it('frees a place and a subscription on unsubscribing, and grows a course by its capacity', async () => {
    await http.post('/courses').send({ courseId: 'c1', capacity: 1 }).expect(201);
    await subscribe('c1', 's1').expect(201);
    await subscribe('c1', 's2').expect(409);
    await http.delete('/courses/c1/subscriptions/s1').expect(200);
    await subscribe('c1', 's2').expect(201);
    await http.post('/courses/c1/capacity').send({ capacity: 0 }).expect(400);
    await http.post('/courses/c1/capacity').send({ capacity: 2 }).expect(201);
    await subscribe('c1', 's1').expect(201);
    expect((await http.get('/courses/c1')).body).toMatchObject({
      capacity: 2,
      students: ['s2', 's1'],
    });
  });

  it('registers a username once', async () => {
    await http.post('/usernames').send({ userId: 'u1', username: 'alice' }).expect(201);
    const again = await http
      .post('/usernames')
      .send({ userId: 'u2', username: 'alice' })
      .expect(409);
    expect(again.body.code).toBe('username.taken');
  });

  it('refuses malformed input with 400 naming the field, before any command runs', async () => {
    const failures = async (response: request.Test) =>
      ((await response.expect(400)).body as { failures: { property: string }[] }).failures.map(
        (f) => f.property,
      );
    expect(await failures(http.post('/courses').send({ courseId: 'C 1', capacity: 1.5 }))).toEqual([
      'courseId',
      'capacity',
    ]);
    expect(await failures(subscribe('c1', '-s'))).toEqual(['studentId']);
    expect(await failures(http.get('/courses/C1'))).toEqual(['courseId']);
    expect(await failures(http.post('/usernames').send({ userId: 'u1', username: 'x' }))).toEqual([
      'username',
    ]);
    expect((await store.read(ALL_EVENTS)).events).toEqual([]);
  });

  it('serves the dcb.events protocol only when opted in', async () => {
    await http.get('/read').query({ query: '{"items":[]}' }).expect(404);
    await http
      .post('/append')
      .send({ events: [{ type: 'A', data: '', tags: [] }] })
      .expect(404);

    const open = await createCoursesApp({
      eventStore: store,
      dcbProtocol: 'benchmarks-and-tests-only',
      logger: false,
    });
    await open.listen(0, '127.0.0.1');
    try {
      const url = await open.getUrl();
      await request(url).post('/courses').send({ courseId: 'c1', capacity: 1 }).expect(201);
      const read = await request(url).get('/read').query({ query: '{"items":[]}' }).expect(200);
      expect(read.body).toEqual([
        {
          type: 'CourseDefined',
          tags: ['course:c1'],
          data: { courseId: 'c1', capacity: 1 },
          position: expect.any(Number),
        },
      ]);
    } finally {
      await open.close();
    }
  });
});
