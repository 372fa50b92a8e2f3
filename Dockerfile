# The bank sample app. Built and run by docker-compose.yml (two instances on one PostgreSQL):
#   docker compose up --build
FROM node:20
WORKDIR /app

# Dependencies first, so a source change does not reinstall them. npm ci needs every workspace's
# package.json (libs/*) to link the @eventcore packages.
COPY package.json package-lock.json ./
COPY libs/core/package.json libs/core/
COPY libs/postgres/package.json libs/postgres/
COPY libs/nestjs/package.json libs/nestjs/
COPY libs/nats/package.json libs/nats/
RUN npm ci

# Builds the packages (libs/*/dist) and then the apps (dist/), which load them by name.
COPY . .
RUN npm run build

ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000
EXPOSE 3000
CMD ["node", "dist/apps/bank/src/main.js"]
