// Markdown checks run by `npm run lint:docs`: links to files and headings of this repository must
// resolve. Offline by design: remark-validate-links reads the working tree and never fetches URLs.
import remarkValidateLinks from 'remark-validate-links';

export default {
  plugins: [
    // repository: false — do not read `git remote` to treat absolute links to the hosting site as
    // local files; only relative links and #anchors are checked.
    [remarkValidateLinks, { repository: false }],
  ],
};
