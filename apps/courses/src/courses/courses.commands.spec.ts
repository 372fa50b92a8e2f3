import { BusinessRuleViolationError, ErrorCodes } from '@eventcore/core';
import { given } from '@eventcore/core/testing';
import {
  ChangeCourseCapacity,
  DefineCourse,
  RegisterUsername,
  SubscribeStudentToCourse,
  UnsubscribeStudentFromCourse,
} from './courses.commands';

/** The course sample's commands, specified with the testing kit: no store, no Nest. */
describe('course commands (given/when/then)', () => {
  const defined = (courseId: string, capacity: number) => ({
    type: 'CourseDefined',
    data: { courseId, capacity },
    tags: [`course:${courseId}`],
  });
  const subscribed = (studentId: string, courseId: string) => ({
    type: 'StudentSubscribedToCourse',
    data: { courseId, studentId },
    tags: [`student:${studentId}`, `course:${courseId}`],
  });
  const unsubscribed = (studentId: string, courseId: string) => ({
    type: 'StudentUnsubscribedFromCourse',
    data: { courseId, studentId },
    tags: [`student:${studentId}`, `course:${courseId}`],
  });
  const rule = async (outcome: Promise<unknown>, expected: string) => {
    expect(((await outcome) as BusinessRuleViolationError).rule).toBe(expected);
  };

  it('defines a course once', async () => {
    await given()
      .when(new DefineCourse('c1', 5))
      .then([defined('c1', 5)]);
    await rule(
      given([defined('c1', 5)])
        .when(new DefineCourse('c1', 9))
        .thenFails(BusinessRuleViolationError),
      'course.already_defined',
    );
    // Another course's definition is outside the boundary.
    await given([defined('c2', 5)])
      .when(new DefineCourse('c1', 5))
      .then([defined('c1', 5)]);
  });

  it('subscribes a student with one event tagged with the student and the course', async () => {
    await given([defined('c1', 2)])
      .when(new SubscribeStudentToCourse('s1', 'c1', 3))
      .then([subscribed('s1', 'c1')]);
  });

  it('refuses an unknown course, a second subscription, a full course and a student at the limit', async () => {
    await rule(
      given()
        .when(new SubscribeStudentToCourse('s1', 'c1', 3))
        .thenFails(BusinessRuleViolationError),
      'course.not_found',
    );
    await rule(
      given([defined('c1', 2), subscribed('s1', 'c1')])
        .when(new SubscribeStudentToCourse('s1', 'c1', 3))
        .thenFails(BusinessRuleViolationError),
      'course.already_subscribed',
    );
    await rule(
      given([defined('c1', 2), subscribed('s1', 'c1'), subscribed('s2', 'c1')])
        .when(new SubscribeStudentToCourse('s3', 'c1', 3))
        .thenFails(BusinessRuleViolationError),
      'course.full',
    );
    const atLimit = [
      defined('c1', 2),
      defined('c2', 2),
      defined('c3', 2),
      subscribed('s1', 'c1'),
      subscribed('s1', 'c2'),
    ];
    await rule(
      given(atLimit)
        .when(new SubscribeStudentToCourse('s1', 'c3', 2))
        .thenFails(BusinessRuleViolationError),
      'student.subscription_limit',
    );
    // The limit is the configured one, and leaving a course frees a place under it.
    await given(atLimit)
      .when(new SubscribeStudentToCourse('s1', 'c3', 3))
      .then([subscribed('s1', 'c3')]);
    await given([...atLimit, unsubscribed('s1', 'c1')])
      .when(new SubscribeStudentToCourse('s1', 'c3', 2))
      .then([subscribed('s1', 'c3')]);
  });

  it('counts only this course’s students against its capacity, and frees places on unsubscription', async () => {
    await given([defined('c1', 1), defined('c2', 1), subscribed('s2', 'c2')])
      .when(new SubscribeStudentToCourse('s1', 'c1', 3))
      .then([subscribed('s1', 'c1')]);
    await given([defined('c1', 1), subscribed('s2', 'c1'), unsubscribed('s2', 'c1')])
      .when(new SubscribeStudentToCourse('s1', 'c1', 3))
      .then([subscribed('s1', 'c1')]);
  });

  it('unsubscribes only a subscribed student', async () => {
    await given([defined('c1', 2), subscribed('s1', 'c1')])
      .when(new UnsubscribeStudentFromCourse('s1', 'c1'))
      .then([unsubscribed('s1', 'c1')]);
    await rule(
      given([defined('c1', 2), subscribed('s1', 'c1'), unsubscribed('s1', 'c1')])
        .when(new UnsubscribeStudentFromCourse('s1', 'c1'))
        .thenFails(BusinessRuleViolationError),
      'course.not_subscribed',
    );
  });

  it('changes a capacity, never below the students a course holds', async () => {
    const history = [defined('c1', 3), subscribed('s1', 'c1'), subscribed('s2', 'c1')];
    await given(history)
      .when(new ChangeCourseCapacity('c1', 2))
      .then([
        {
          type: 'CourseCapacityChanged',
          data: { courseId: 'c1', capacity: 2 },
          tags: ['course:c1'],
        },
      ]);
    await rule(
      given(history).when(new ChangeCourseCapacity('c1', 1)).thenFails(BusinessRuleViolationError),
      'course.capacity_below_subscriptions',
    );
    await given(history).when(new ChangeCourseCapacity('c1', 3)).then([]);
    await rule(
      given().when(new ChangeCourseCapacity('c1', 3)).thenFails(BusinessRuleViolationError),
      'course.not_found',
    );
  });

  it('registers a username once', async () => {
    const registered = {
      type: 'UsernameRegistered',
      data: { userId: 'u1', username: 'alice' },
      tags: ['username:alice'],
    };
    await given().when(new RegisterUsername('u1', 'alice')).then([registered]);
    await rule(
      given([registered])
        .when(new RegisterUsername('u2', 'alice'))
        .thenFails(BusinessRuleViolationError),
      'username.taken',
    );
  });

  it('refuses invalid input before anything else', async () => {
    await given()
      .when(new SubscribeStudentToCourse('S 1', 'c1', 3))
      .thenFails(ErrorCodes.commandValidation, /studentId/);
    await given()
      .when(new DefineCourse('c1', 0))
      .thenFails(ErrorCodes.commandValidation, /capacity/);
    await given()
      .when(new RegisterUsername('u1', 'al'))
      .thenFails(ErrorCodes.commandValidation, /username/);
  });
});
