import {
  Body,
  Controller,
  Delete,
  Get,
  Headers,
  Inject,
  NotFoundException,
  Param,
  Post,
} from '@nestjs/common';
import type { CommandLogic } from '@eventcore/core';
import {
  CommandBus,
  type CommandResponse,
  commandResponse,
  executeOptionsFromHeaders,
  PatternPipe,
} from '@eventcore/nestjs';
import {
  ChangeCourseCapacity,
  DefineCourse,
  ID_MESSAGE,
  RegisterUsername,
  SubscribeStudentToCourse,
  UnsubscribeStudentFromCourse,
} from './courses.commands';
import { CapacityDto, DefineCourseDto, RegisterUsernameDto, SubscribeDto } from './courses.dto';
import { type CourseEvent, CourseRules, ID_PATTERN } from './courses.events';
import { CourseQueries, type CourseView, type StudentView } from './courses.queries';

type Headers = Record<string, string | string[] | undefined>;

/** Injection token of the number of courses a student may hold at once. */
export const MAX_SUBSCRIPTIONS_PER_STUDENT = 'COURSES:MAX_SUBSCRIPTIONS_PER_STUDENT';

const courseId = new PatternPipe(
  ID_PATTERN,
  'courseId',
  ID_MESSAGE.replace('$property', 'courseId'),
);
const studentId = new PatternPipe(
  ID_PATTERN,
  'studentId',
  ID_MESSAGE.replace('$property', 'studentId'),
);

/** Courses, subscriptions and usernames over HTTP. */
@Controller()
export class CoursesController {
  constructor(
    private readonly commands: CommandBus,
    private readonly queries: CourseQueries,
    @Inject(MAX_SUBSCRIPTIONS_PER_STUDENT) private readonly maxSubscriptions: number,
  ) {}

  @Post('courses')
  define(@Body() body: DefineCourseDto, @Headers() headers: Headers): Promise<CommandResponse> {
    return this.run(new DefineCourse(body.courseId, body.capacity), headers);
  }

  @Post('courses/:courseId/capacity')
  changeCapacity(
    @Param('courseId', courseId) id: string,
    @Body() body: CapacityDto,
    @Headers() headers: Headers,
  ): Promise<CommandResponse> {
    return this.run(new ChangeCourseCapacity(id, body.capacity), headers);
  }

  @Post('courses/:courseId/subscriptions')
  subscribe(
    @Param('courseId', courseId) id: string,
    @Body() body: SubscribeDto,
    @Headers() headers: Headers,
  ): Promise<CommandResponse> {
    return this.run(
      new SubscribeStudentToCourse(body.studentId, id, this.maxSubscriptions),
      headers,
    );
  }

  @Delete('courses/:courseId/subscriptions/:studentId')
  unsubscribe(
    @Param('courseId', courseId) course: string,
    @Param('studentId', studentId) student: string,
    @Headers() headers: Headers,
  ): Promise<CommandResponse> {
    return this.run(new UnsubscribeStudentFromCourse(student, course), headers);
  }

  @Post('usernames')
  register(
    @Body() body: RegisterUsernameDto,
    @Headers() headers: Headers,
  ): Promise<CommandResponse> {
    return this.run(new RegisterUsername(body.userId, body.username), headers);
  }

  @Get('courses/:courseId')
  async course(@Param('courseId', courseId) id: string): Promise<CourseView> {
    const course = await this.queries.course(id);
    if (course === undefined) {
      throw new NotFoundException({
        code: CourseRules.notFound,
        message: `Course ${id} does not exist.`,
      });
    }
    return course;
  }

  @Get('students/:studentId')
  student(@Param('studentId', studentId) id: string): Promise<StudentView> {
    return this.queries.student(id);
  }

  private async run<S>(
    command: CommandLogic<S, CourseEvent>,
    headers: Headers,
  ): Promise<CommandResponse> {
    return commandResponse(
      await this.commands.execute(command, executeOptionsFromHeaders(headers)),
    );
  }
}
