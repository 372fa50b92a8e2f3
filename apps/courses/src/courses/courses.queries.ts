import { Injectable } from '@nestjs/common';
import type { EventStore, RecordedEvent } from '@eventcore/core';
import { InjectEventStore } from '@eventcore/nestjs';
import {
  COURSE_EVENT_TYPES,
  type CourseEvent,
  courseTag,
  evolveCourse,
  evolveStudentCourses,
  noCourse,
  studentTag,
  SUBSCRIPTION_EVENT_TYPES,
} from './courses.events';

/** A course as the API shows it. */
export interface CourseView {
  readonly courseId: string;
  readonly capacity: number;
  readonly students: readonly string[];
  /** Position of the last event about the course: later reads never show an older state. */
  readonly position: number;
}

/** The courses a student holds, as the API shows them. */
export interface StudentView {
  readonly studentId: string;
  readonly courses: readonly string[];
  readonly position: number;
}

/**
 * Reads by folding the events a query matches, like a decision does (strongly consistent, no
 * read model): the same queries as the commands' boundaries.
 */
@Injectable()
export class CourseQueries {
  constructor(@InjectEventStore() private readonly store: EventStore) {}

  /** The course, or undefined when it was never defined. */
  async course(courseId: string): Promise<CourseView | undefined> {
    const { events } = await this.store.read({
      items: [{ types: COURSE_EVENT_TYPES, tags: [courseTag(courseId)] }],
    });
    const state = (events as readonly RecordedEvent<CourseEvent>[]).reduce(evolveCourse, noCourse);
    if (!state.defined) return undefined;
    const { capacity, students } = state;
    return { courseId, capacity, students, position: events.at(-1)?.globalPosition ?? 0 };
  }

  /** The courses the student holds now (none for a student never seen). */
  async student(studentId: string): Promise<StudentView> {
    const { events } = await this.store.read({
      items: [{ types: SUBSCRIPTION_EVENT_TYPES, tags: [studentTag(studentId)] }],
    });
    const courses = (events as readonly RecordedEvent<CourseEvent>[]).reduce(
      evolveStudentCourses,
      [] as readonly string[],
    );
    return { studentId, courses, position: events.at(-1)?.globalPosition ?? 0 };
  }
}
